"""Knowledge: every data set cityscan judges by, behind one loader (:mod:`scanner.knowledge.loader`).

Fingerprints, policies, countries and laws, company ownership and IP data are facts with a source
and a date, kept as data files (``knowledge/data``, and the user-editable ``fingerprints/`` and
``sample_configs/`` at the top of the repository), never as if-chains in code.
"""
