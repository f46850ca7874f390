// Seeded generators for every record the sandbox serves, one module per vendor under data/. Each
// record is a pure function of (seed, kind, index): objects for the Query API are built once per
// sandbox and cached (a few thousand rows), raw activities and Userpilot events are built on
// demand by index so that a job of millions of records never has to exist in memory at once.
// The vocabulary here (periods, objects, lookups, event types) is the sandbox's own copy, kept
// apart from the clients' on purpose: the sandbox is the independent oracle they are tested against.
export * from "./data/common.mjs";
export * from "./data/query.mjs";
export * from "./data/activities.mjs";
export * from "./data/forecasting.mjs";
export * from "./data/userpilot.mjs";
