"""The citation engine: pure, deterministic code that keeps every sentence of the report backed.

- sentences.py: evidence in whole sentences (no heading, code or cut sentence is a quote);
- support.py: the support score of a claim against the text it cites (offline, linear-time);
- grounding.py, claim_text.py: claims checked against their evidence, rendered and read back;
- evidence_fill.py, extractive.py: the extractive floor, written from the best evidence;
- citations.py, sanitise.py: numbered Sources and safe text in every output format.

Workflow code runs it, so replay reproduces every citation decision.
"""
