"""The command line: a thin shell over the library. Errors become exit codes here."""
