"""Judge stage: a policy's rules over the result, waivers applied, every rule's verdict recorded.

:mod:`.policy` reads policy files, :mod:`.rules` holds the rules (one module per family),
:mod:`.waivers` the accepted findings, :mod:`.evaluate` runs them and returns a judgement.
"""
