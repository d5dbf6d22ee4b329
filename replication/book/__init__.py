"""The book's machinery: profiles, the experiments the chapters share, recorded numbers,
figures, and the papermill + Jupyter Book reproduction."""
