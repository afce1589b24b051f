"""Sections of the Compare page (views/compare.py calls them in order). One module per section; each reads
runs through :class:`tlcore.runs.view.RunView` and the engine, never by file name.

* :mod:`.table`: the runs table with filters and CSV export;
* :mod:`.metrics`: metrics, intervals, validators, flags, confusion matrices and curves of a selection;
* :mod:`.paired`: the paired test of two runs;
* :mod:`.detail`: one run in detail (error analysis, cross-validation, reproducibility, model);
* :mod:`.share`: the HTML report;
* :mod:`.sweeps`: starting a sweep and its results;
* :mod:`.delete`: deleting runs.
"""
