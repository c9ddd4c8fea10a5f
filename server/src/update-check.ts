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

/**
 * Throws unless the update can be applied whole; returns where each client's
 * structs in it end, so the caller can confirm afterwards that Yjs
 * integrated all of them.
 */
export function checkUpdate(doc: Y.Doc, update: Uint8Array): Map<number, number> {
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
    for (const ref of references(struct)) {
      // Yjs integrates one client's structs in clock order: a reference to
      // the same client must point back, and anything else must exist.
      if (ref.client === struct.id.client && ref.clock >= struct.id.clock) throw missing();
      if (!has(ref)) throw missing();
    }
  }
  if (hasCycle(decoded.structs, known)) throw missing();
  for (const [client, ranges] of decoded.ds.clients) {
    for (const range of ranges) {
      if (!has({ client, clock: range.clock + range.len - 1 })) throw missing();
    }
  }
  return ends;
}

function references(struct: Struct): Y.ID[] {
  if (!(struct instanceof Y.Item)) return [];
  return [struct.origin, struct.rightOrigin, struct.parent].filter(
    (ref): ref is Y.ID => ref instanceof Y.ID,
  );
}

/**
 * Whether the update's structs depend on each other in a circle (an item of
 * one client placed next to an item of another that is placed next to the
 * first): every reference exists, yet Yjs can integrate none of them and
 * would keep them pending. Real edits cannot do this, as each one only
 * refers to what existed when it was made. A struct depends on the struct
 * before it of the same client, and on the structs of this update that it
 * refers to (references to what the document has are settled).
 */
function hasCycle(structs: readonly Struct[], known: (client: number) => number): boolean {
  const byClient = new Map<number, number[]>();
  structs.forEach((struct, index) => {
    const list = byClient.get(struct.id.client) ?? [];
    list.push(index);
    byClient.set(struct.id.client, list);
  });
  const find = (ref: Y.ID): number | undefined => {
    const list = byClient.get(ref.client) ?? [];
    let low = 0;
    let high = list.length - 1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      const struct = structs[list[middle] as number] as Struct;
      if (ref.clock < struct.id.clock) high = middle - 1;
      else if (ref.clock >= struct.id.clock + struct.length) low = middle + 1;
      else return list[middle];
    }
    return undefined;
  };
  const dependencies = (index: number): number[] => {
    const struct = structs[index] as Struct;
    const found: number[] = [];
    const previous = structs[index - 1];
    if (previous && previous.id.client === struct.id.client) found.push(index - 1);
    for (const ref of references(struct)) {
      if (ref.clock < known(ref.client)) continue;
      const target = find(ref);
      if (target !== undefined && target !== index) found.push(target);
    }
    return found;
  };
  // Iterative depth-first search: 1 = on the current path, 2 = done.
  const state = new Uint8Array(structs.length);
  for (let start = 0; start < structs.length; start++) {
    if (state[start]) continue;
    const stack: [number, number[]][] = [[start, dependencies(start)]];
    state[start] = 1;
    while (stack.length > 0) {
      const top = stack[stack.length - 1] as [number, number[]];
      const next = top[1].pop();
      if (next === undefined) {
        state[top[0]] = 2;
        stack.pop();
      } else if (state[next] === 1) {
        return true;
      } else if (state[next] === 0) {
        state[next] = 1;
        stack.push([next, dependencies(next)]);
      }
    }
  }
  return false;
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
