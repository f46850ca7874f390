// The edge's durable activity run at size (issue 18): one snapshot job of RECORDS records (default
// 1,000,000, about 1.5 GB of JSON Lines) in FRAGMENTS fragments through the ActivitiesExport
// Workflow in workerd, compared byte for byte with the sandbox's truth; prints the run's time and
// workerd's peak memory (tests/edge/activities-at-size.mjs; the same run is a test in the edge layer,
// tests/edge/million.test.mjs).
//
//   node bench/edge-activities.mjs [RECORDS] [FRAGMENTS]
import { activitiesAtSize } from "../tests/edge/activities-at-size.mjs";

const RECORDS = Number(process.argv[2] ?? 1_000_000);
const FRAGMENTS = Number(process.argv[3] ?? 40);
console.log(JSON.stringify(await activitiesAtSize(RECORDS, FRAGMENTS), null, 2));
