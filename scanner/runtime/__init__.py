"""How a run behaves, whatever the stage: progress display, stop signals, safe output files."""
