export * from "./api.ts";
export * from "./awareness.ts";
export * from "./close-codes.ts";
export * from "./doc-id.ts";
export * from "./http-transport.ts";
export * from "./mux.ts";
export * from "./protocol.ts";
