//! Diagnostics: what went wrong, where (file, line, column), and how to fix it.
