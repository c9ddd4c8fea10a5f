/**
 * An update from a peer is accepted whole or not at all.
 *
 * `Y.applyUpdate` integrates an update's structs before it reads its delete
 * set, and keeps structs and deletions whose dependencies it lacks as
 * "pending". So an update corrupt near its end, or one that builds on
 * changes this server never got, would leave part of itself in the
 * document. `checkUpdate` decodes the whole update and checks every
 * reference in it against the document and the update itself before
 * anything touches the document; it throws ProtocolError otherwise.
 *
 * It is not a second Yjs: a forged update can still be well formed and
 * complete by these checks yet fail inside Yjs (for example two sections
 * for one client, where Yjs keeps only the last). The room treats such a
 * failure as unrecoverable for its in-memory copy and reloads from storage.
 */
import { ProtocolError } from "@cowrite/shared";
import * as Y from "yjs";

type Struct = Y.Item | Y.GC | Y.Skip;
/** What `Y.decodeUpdate` returns for the delete set (its class is not exported). */
type DeleteSet = { clients: Map<number, { clock: number; len: number }[]> };
type Id = { client: number; clock: number };

export function checkUpdate(doc: Y.Doc, update: Uint8Array): void {
  let decoded: { structs: Struct[]; ds: DeleteSet };
  try {
    decoded = Y.decodeUpdate(update) as { structs: Struct[]; ds: DeleteSet };
  } catch (error) {
    throw new ProtocolError(`invalid Yjs update: ${(error as Error).message}`);
  }
  const known = (client: number) => Y.getState(doc.store, client);
  // Where each client's structs in this update end; continuity checked below.
  const ends = new Map<number, number>();
  let previous: Struct | null = null;
  for (const struct of decoded.structs) {
    const { client, clock } = struct.id;
    const continues =
      previous !== null &&
      previous.id.client === client &&
      previous.id.clock + previous.length === clock;
    if (!continues) {
      if (ends.has(client)) throw new ProtocolError("update has two sections for one client");
      // A section may overlap what the document has, never leave a gap.
      if (clock > known(client)) throw missing();
    }
    // A skip is a gap in the update: only harmless when the document has it.
    if (struct instanceof Y.Skip && clock + struct.length > known(client)) throw missing();
    ends.set(client, clock + struct.length);
    previous = struct;
  }
  const has = (id: Id) => id.clock < Math.max(known(id.client), ends.get(id.client) ?? 0);
  for (const struct of decoded.structs) {
    if (!(struct instanceof Y.Item)) continue;
    for (const ref of [struct.origin, struct.rightOrigin, struct.parent]) {
      if (!(ref instanceof Y.ID)) continue;
      // Yjs integrates one client's structs in clock order: a reference to
      // the same client must point back, and anything else must exist.
      if (ref.client === struct.id.client && ref.clock >= struct.id.clock) throw missing();
      if (!has(ref)) throw missing();
    }
  }
  for (const [client, ranges] of decoded.ds.clients) {
    for (const range of ranges) {
      if (!has({ client, clock: range.clock + range.len - 1 })) throw missing();
    }
  }
}

/** The update builds on changes the document does not have (yet). */
export class MissingChangesError extends ProtocolError {
  constructor() {
    super("update depends on changes the server does not have");
  }
}

function missing(): ProtocolError {
  return new MissingChangesError();
}
