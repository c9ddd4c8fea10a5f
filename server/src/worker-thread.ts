import { Worker, type WorkerOptions } from "node:worker_threads";

/**
 * Starts the worker thread whose entry is `name` (without extension) next
 * to the module at `from` (its `import.meta.url`). In the production bundle
 * that entry is a sibling .js file; from source (tsx, vitest) it is
 * TypeScript, and a worker thread does not inherit the parent's loader, so
 * it is loaded through tsx's API.
 */
export function startWorkerThread(from: string, name: string, options: WorkerOptions = {}): Worker {
  if (!from.endsWith(".ts")) return new Worker(new URL(`./${name}.js`, from), options);
  const tsx = import.meta.resolve("tsx/esm/api");
  const entry = new URL(`./${name}.ts`, from).href;
  const code = `import(${JSON.stringify(tsx)}).then((tsx) => tsx.tsImport(${JSON.stringify(entry)}, ${JSON.stringify(entry)}));`;
  return new Worker(code, { ...options, eval: true });
}
