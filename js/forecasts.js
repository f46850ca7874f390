// Backstory Forecasting Query API (`client.forecasts`). Not built yet: see issue 4.
export class ForecastsApi {
  #core;
  constructor(core) {
    this.#core = core;
  }
}
