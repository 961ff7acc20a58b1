#!/usr/bin/env bash
# Trains tool search's encoder (train/toolsearch/README.md): a venv in target/train,
# the pairs from the pinned public data, the fine-tune, the model in target/train/model.
# Not part of the build or CI.
#
#   train/toolsearch/run.sh METATOOL_GIT GORILLA_GIT TOUCAN_GIT LIVEMCPBENCH_GIT
#
# The four: git directories of clones of HowieHwong/MetaTool, ShishirPatil/gorilla,
# TheAgentArk/Toucan and icip-cas/LiveMCPBench holding the commits pinned in data.py.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
[ $# -eq 4 ] || { sed -n 2,9p "$0"; exit 2; }
venv=target/train/venv
[ -x $venv/bin/python ] || python3 -m venv $venv
$venv/bin/pip install -q -r train/toolsearch/requirements.txt
[ -f target/models/all-MiniLM-L6-v2/model.safetensors ] || cargo build
[ -f target/toolsearch/tools.json ] || { echo "run bench/toolsearch/run.sh once first (it collects the servers' tools)"; exit 1; }
export TOOLSEARCH_EXTERNAL=${TOOLSEARCH_EXTERNAL:-$root/../shared/toolsearch-external}
python3 train/toolsearch/data.py "$1" "$2" "$3" "$4" target/train/data
THREADS=${THREADS:-2} nice $venv/bin/python train/toolsearch/train.py \
    target/models/all-MiniLM-L6-v2 target/train/data/train.jsonl target/train/model \
    --epochs 1 --save-every 50 --lr 3e-5 --batch 32 --negs 1 --freeze 0 \
    --tool-tokens 128 --query-tokens 64
sha256sum target/train/model/model.safetensors
echo "copy target/train/model/* to models/toolsearch/ and pin the digest in build/model.rs"
