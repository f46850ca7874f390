// The Userpilot client (issue 5): `exports` and `lookups`. Not built yet.
import { requireReady } from "./runtime.js";

export class UserpilotClient {
  constructor() {
    requireReady();
  }
}
