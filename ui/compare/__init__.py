"""Sections of the Compare page (views/compare.py puts them in tabs). One module per section; each reads
runs through :class:`tlcore.runs.view.RunView` and the engine, never by file name.

* :mod:`.table`: the runs table with filters and CSV export;
* :mod:`.metrics`: metrics, intervals, flags, confusion matrices and curves of a selection (the label-free
  validators: ui/compare_validators.py; using the model: ui/predict_export.py);
* :mod:`.paired`: the paired test of two runs;
* :mod:`.detail`: one run in detail (error analysis, cross-validation, reproducibility);
* :mod:`.share`: the HTML report;
* :mod:`.sweeps`: starting a sweep and its results;
* :mod:`.delete`: deleting runs.
"""
