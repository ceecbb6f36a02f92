"""normalize.py OUT.json CORPUS WORK: a postmortem --json of a corpus core
with the folders it ran in written as $CORPUS and $WORK, so that the same
core gives the same text wherever the corpus lives."""
import json
import sys

out, corpus, work = sys.argv[1:]
text = open(out).read().replace(work, "$WORK").replace(corpus, "$CORPUS")
print(json.dumps(json.loads(text), indent=1, sort_keys=True))
