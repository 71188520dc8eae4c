/**
 * `build` run on the first call and its result returned from then on. For zod schemas: building one
 * costs CPU that a Worker would otherwise spend at startup, on every cold start, for schemas a given
 * isolate may never use (bench/README.md, "Startup").
 */
export function lazy<T>(build: () => T): () => T {
  let built: { value: T } | null = null;
  return () => {
    built ??= { value: build() };
    return built.value;
  };
}
