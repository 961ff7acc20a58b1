// search: structured weather
// search: knowledge graph create entities
const cities = ["New York", "Chicago", "Los Angeles"];
const w = await Promise.all(cities.map(location => tools["everything__get-structured-content"]({location})));
let best = 0;
w.forEach((x, i) => { if (x.temperature > w[best].temperature) best = i; });
const obs = `warmest: ${cities[best]} (${w[best].temperature} C)`;
await tools.memory__create_entities({entities: [{name: "Weather check", entityType: "note", observations: [obs]}]});
return obs;
