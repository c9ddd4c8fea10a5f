/**
 * What a worker holds between tasks: sessions (sets of open clients plus the
 * state a later task needs), by group name. `close-group` ends one.
 */
export interface Session {
  /** Closes every client of the session; resolves with how many were still open. */
  close(): Promise<number>;
}

const sessions = new Map<string, Session>();

export function putSession(group: string, session: Session): void {
  if (sessions.has(group)) throw new Error(`group ${group} is already open`);
  sessions.set(group, session);
}

export function getSession<T extends Session>(
  group: string,
  type: abstract new (...args: never[]) => T,
): T {
  const session = sessions.get(group);
  if (!(session instanceof type)) throw new Error(`no ${type.name} open as group ${group}`);
  return session;
}

export async function closeSession(group: string): Promise<number> {
  const session = sessions.get(group);
  sessions.delete(group);
  return session ? session.close() : 0;
}
