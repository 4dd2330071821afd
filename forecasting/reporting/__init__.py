"""Report tables, charts and writers for a run (``reports/<run-id>/``).

- :mod:`.tables`: percentiles across simulated paths and financial-year tables;
- :mod:`.charts`: one Figure per chart; :mod:`.fanchart`: the demand fan chart;
- :mod:`.bundle`, :mod:`.build`: what a report holds, assembled from a run;
- :mod:`.html` (self-contained page), :mod:`.xlsx` (budget workbook), :mod:`.outputs` (CSV /
  Parquet with formula text neutralised, atomic report folders).

Submodules are imported on use, so ``import forecasting.reporting`` stays light.
"""
