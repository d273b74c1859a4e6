"""Composition: from plans to jobs (rendered messages, stamps and notes), nothing sent."""
