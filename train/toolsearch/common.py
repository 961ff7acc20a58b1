"""What train.py and eval.py share: the encoder as the gateway runs it (BERT, mean
pooling over the tokens, unit length), read from and written to a model folder
(model.safetensors and vocab.txt, the tensor names of sentence-transformers'
all-MiniLM-L6-v2)."""
import json
import os
import struct

import torch
from safetensors.torch import load_file, save_file
from tokenizers import BertWordPieceTokenizer
from transformers import BertConfig, BertModel

CONFIG = dict(vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
              intermediate_size=1536, hidden_act="gelu", max_position_embeddings=512,
              type_vocab_size=2, layer_norm_eps=1e-12)
QUERY_TOKENS = 256
TOOL_TOKENS = 128  # src/search/text.rs TOOL_TOKENS


def load(model_dir):
    tok = BertWordPieceTokenizer(os.path.join(model_dir, "vocab.txt"), lowercase=True,
                                 strip_accents=True, clean_text=True, handle_chinese_chars=True)
    model = BertModel(BertConfig(**CONFIG), add_pooling_layer=False)
    state = {k: v.float() for k, v in load_file(os.path.join(model_dir, "model.safetensors")).items()}
    missing, _ = model.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.endswith("position_ids")]
    if missing:
        raise SystemExit(f"{model_dir}: tensors missing: {missing[:5]}")
    return tok, model


def names_of(model_dir):
    with open(os.path.join(model_dir, "model.safetensors"), "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return [k for k in json.loads(f.read(n)) if k != "__metadata__"]


def save(model, like_dir, out_dir):
    """The model's tensors under the names `like_dir`'s file has: the matrices as half
    floats (the gateway keeps them so in memory anyway), the vectors (biases, norms) as
    f32."""
    os.makedirs(out_dir, exist_ok=True)
    state = model.state_dict()
    out = {}
    for k in names_of(like_dir):
        if k in state:
            t = state[k].detach()
            out[k] = (t.to(torch.float16) if t.dim() == 2 else t.float()).contiguous()
    save_file(out, os.path.join(out_dir, "model.safetensors"))
    with open(os.path.join(like_dir, "vocab.txt"), "rb") as f, open(os.path.join(out_dir, "vocab.txt"), "wb") as g:
        g.write(f.read())


def embed(tok, model, texts, max_len, batch=64):
    out = []
    for i in range(0, len(texts), batch):
        enc = tokens(tok, texts[i:i + batch], max_len)
        h = model(**enc).last_hidden_state
        m = enc["attention_mask"].unsqueeze(-1).float()
        v = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
        out.append(torch.nn.functional.normalize(v, dim=-1))
    return torch.cat(out) if out else torch.zeros(0, CONFIG["hidden_size"])


def tokens(tok, texts, max_len):
    """Token ids of `texts`, each cut to `max_len` ([CLS] and [SEP] included), padded."""
    ids = []
    for e in tok.encode_batch(texts):
        t = e.ids
        if len(t) > max_len:
            t = t[: max_len - 1] + [t[-1]]
        ids.append(t)
    width = max(map(len, ids))
    input_ids = torch.zeros(len(ids), width, dtype=torch.long)
    mask = torch.zeros(len(ids), width, dtype=torch.long)
    for i, t in enumerate(ids):
        input_ids[i, : len(t)] = torch.tensor(t)
        mask[i, : len(t)] = 1
    return {"input_ids": input_ids, "attention_mask": mask,
            "token_type_ids": torch.zeros_like(input_ids)}
