// search: knowledge graph search nodes
const r = await tools.memory__search_nodes({query: "Lovelace"});
const ada = r.entities.filter(e => /ada/i.test(e.name));
const obs = ada.flatMap(e => e.observations.filter(o => /ext|phone/i.test(o)).map(o => `${e.name}: ${o}`));
return obs.length ? obs.join("\n") : {notFound: true, entities: r.entities};
