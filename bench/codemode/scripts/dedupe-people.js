// search: knowledge graph read entities relations delete
const g = await tools.memory__read_graph({});
const groups = new Map();
for (const e of g.entities) for (const o of e.observations) {
  if (!/[^\s@]+@[^\s@]+\.\w+/.test(o)) continue;
  const k = o.toLowerCase().replace(/\s+/g, "");
  if (!groups.has(k)) groups.set(k, []);
  if (!groups.get(k).includes(e)) groups.get(k).push(e);
}
const addObs = [], newRels = [], drop = [], merged = [];
const key = r => `${r.from}\u0000${r.to}\u0000${r.relationType}`;
const have = new Set(g.relations.map(key));
for (const es of groups.values()) {
  if (es.length !== 2 || es.some(e => drop.includes(e.name))) continue;
  const [keep, other] = es[1].observations.length > es[0].observations.length ? [es[1], es[0]] : es;
  const extra = other.observations.filter(o => !keep.observations.includes(o));
  if (extra.length) addObs.push({entityName: keep.name, contents: extra});
  for (const r of g.relations) {
    if (r.from !== other.name && r.to !== other.name) continue;
    const n = {from: r.from === other.name ? keep.name : r.from, to: r.to === other.name ? keep.name : r.to, relationType: r.relationType};
    if (n.from === n.to || have.has(key(n))) continue;
    have.add(key(n)); newRels.push(n);
  }
  drop.push(other.name);
  merged.push(`${other.name} -> ${keep.name}`);
}
if (addObs.length) await tools.memory__add_observations({observations: addObs});
if (newRels.length) await tools.memory__create_relations({relations: newRels});
if (drop.length) await tools.memory__delete_entities({entityNames: drop});
return {merged, observationsAdded: addObs, relationsMoved: newRels.length};
