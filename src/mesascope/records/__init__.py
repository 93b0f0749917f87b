"""Plain-data records of results and the readings taken off them: the leaf layer.

Everything here depends on NumPy only, so worlds' diagnostics (`diagnose/`), the experiment
runner (`experiments/`), the store and the report can all import it without importing each
other."""
