// Stands in for the "server-only" package under vitest and the CLI, which are server contexts.
export {};
