export { type Config, readConfig } from "./config.ts";
export type { Peer } from "./room.ts";
export { Room } from "./room.ts";
export { RoomRegistry } from "./rooms.ts";
export { type CowriteServer, createServer, type ServerOptions } from "./server.ts";
export type { DocMeta, DocStore } from "./storage/doc-store.ts";
export { MemoryDocStore } from "./storage/memory.ts";
export { SqliteDocStore } from "./storage/sqlite.ts";
