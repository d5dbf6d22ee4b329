"""The data layer: the eight attribute dimensions (``tasks``), the FashionAI files
(``fashionai``), the official metric and its statistics (``metric``) and the synthetic set's
ground truth format (``truth``). Imports nothing else of the package."""
