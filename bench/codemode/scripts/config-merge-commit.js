// search: read file write file
// search: git add commit
const R = "{repo}";
const [base, prod] = await Promise.all(["base", "prod"].map(n => tools.files__read_text_file({path: `${R}/config/${n}.json`})));
const isObj = v => v !== null && typeof v === "object" && !Array.isArray(v);
const merge = (a, b) => {
  const out = {...a};
  for (const [k, v] of Object.entries(b)) out[k] = isObj(v) && isObj(a[k]) ? merge(a[k], v) : v;
  return out;
};
const effective = merge(JSON.parse(base.content), JSON.parse(prod.content));
await tools.files__write_file({path: `${R}/config/effective.json`, content: JSON.stringify(effective, null, 2) + "\n"});
await tools.git__git_add({repo_path: R, files: ["config/effective.json"]});
const commit = await tools.git__git_commit({repo_path: R, message: "config: effective settings"});
return {effective, commit};
