import { setupServer } from "msw/native";
import { afterAll, afterEach, beforeAll } from "vitest";

/**
 * MSW for outbound HTTP in the Workers runtime. `msw/native` intercepts `fetch` only, which is all
 * workerd has; the Worker under test shares this isolate, so its provider calls are intercepted too.
 * An unhandled request fails the test: no test can reach the network.
 */
export function useMockNetwork() {
  const server = setupServer();
  beforeAll(() => server.listen({ onUnhandledRequest: "error" }));
  afterEach(() => server.resetHandlers());
  afterAll(() => server.close());
  return server;
}
