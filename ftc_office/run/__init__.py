"""The run: reconcile, plan, compose, deliver, record — one module per phase."""
