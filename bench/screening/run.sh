#!/usr/bin/env bash
# The screening of tool definitions, one command: detection per attack class on
# the cases make_attacks.py writes (target/screening/attacks.jsonl), false alarms on the real tools of bench/toolsearch (collected once by
# bench/toolsearch/run.sh into target/toolsearch/tools.json), LiveMCPBench and MetaTool
# (TOOLSEARCH_EXTERNAL, default ../shared/toolsearch-external); the false holds with every
# real set's servers registered side by side on one gateway and each server twice (under
# another name and configuration); then every blind corpus of bench/screening/ (the
# folders blind, blind2, blind3, …: a new one is measured as soon as it is dropped in),
# detection per class and false alarms on its benign tools; and the cost a definition.
#   bench/screening/run.sh                  # the figures
#   SCREENING_SHOW=1 bench/screening/run.sh # and each false alarm and each miss
#   SCREENING_ROUNDS=1 bench/screening/run.sh # one round of the cost (7 by default)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
python3 bench/screening/make_attacks.py target/screening/attacks.jsonl
# The figures, not speed: the dev profile, which the tests have built already.
cargo bench --profile dev --bench screening
