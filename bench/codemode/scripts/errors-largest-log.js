// search: list directory sizes
// search: read file write file create directory
const W = "{ws}";
const listing = (await tools.files__list_directory_with_sizes({path: `${W}/logs`, sortBy: "size"})).content;
const files = listing.split("\n").map(l => /^\[FILE\]\s+(.+?)\s+\d+(?:\.\d+)?\s+[KMGT]?B\s*$/.exec(l)).filter(Boolean).map(m => m[1]);
const biggest = files[0];
const text = (await tools.files__read_text_file({path: `${W}/logs/${biggest}`})).content;
const errors = text.split(/\r?\n/).filter(l => /\bERROR\b/.test(l));
await tools.files__create_directory({path: `${W}/reports`});
await tools.files__write_file({path: `${W}/reports/errors.txt`, content: errors.join("\n") + "\n"});
return `The biggest log is ${biggest}; its ${errors.length} ERROR lines are in ${W}/reports/errors.txt.`;
