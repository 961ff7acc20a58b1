// search: directory tree list files
// search: write file
const root = "{ws}/dataset";
const tree = JSON.parse((await tools.files__directory_tree({path: root})).content);
const dirs = tree.filter(e => e.type === "directory").sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
const lines = dirs.map(d => {
  const files = (d.children || []).filter(c => c.type === "file");
  return `${d.name}: ${files.length} files, ${files.filter(f => f.name.endsWith(".csv")).length} csv`;
});
const content = lines.join("\n") + "\n";
await tools.files__write_file({path: `${root}/SUMMARY.md`, content});
return content;
