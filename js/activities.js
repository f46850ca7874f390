// Backstory Raw Activity Data API (`client.activities`). Not built yet: see issue 3.
export class ActivitiesApi {
  #core;
  constructor(core) {
    this.#core = core;
  }
}
