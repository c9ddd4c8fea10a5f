/**
 * `<CowriteEditor>`: a thin React wrapper over `createEditor`. It mounts the
 * editor in an effect, re-creates it when an option that shapes the
 * connection changes, and destroys it on unmount. Event props are read
 * through a ref, so changing them does not re-create the editor.
 */
import { type CSSProperties, useEffect, useRef } from "react";
import {
  type ConnectionState,
  type CowriteEditorHandle,
  type CowriteEditorOptions,
  createEditor,
  type PresenceUser,
} from "./lib.ts";

export * from "./lib.ts";

export interface CowriteEditorProps extends Omit<CowriteEditorOptions, "WebSocketImpl"> {
  className?: string;
  style?: CSSProperties;
  onReady?: (editor: CowriteEditorHandle) => void;
  onStatus?: (state: ConnectionState) => void;
  onSynced?: (isSynced: boolean) => void;
  onPresence?: (users: PresenceUser[]) => void;
  onChange?: (editor: CowriteEditorHandle) => void;
}

export function CowriteEditor(props: CowriteEditorProps) {
  const hostRef = useRef<HTMLDivElement>(null);
  const propsRef = useRef(props);
  propsRef.current = props;
  const { serverUrl, docId, token, readOnly, placeholder, localCopyUser, sharedConnection } = props;
  const userKey = JSON.stringify(props.user ?? null);
  const toolbarKey = JSON.stringify(props.toolbar ?? true);
  const themeKey = JSON.stringify(props.theme ?? {});
  const contentKey = JSON.stringify(props.initialContent ?? null);

  // biome-ignore lint/correctness/useExhaustiveDependencies: the *Key strings stand for the object options read from propsRef
  useEffect(() => {
    const host = hostRef.current;
    if (host === null) return;
    const current = propsRef.current;
    const editor = createEditor(host, {
      serverUrl,
      docId,
      ...(token === undefined ? {} : { token }),
      ...(readOnly === undefined ? {} : { readOnly }),
      ...(placeholder === undefined ? {} : { placeholder }),
      ...(localCopyUser === undefined ? {} : { localCopyUser }),
      ...(sharedConnection === undefined ? {} : { sharedConnection }),
      ...(current.user === undefined ? {} : { user: current.user }),
      ...(current.toolbar === undefined ? {} : { toolbar: current.toolbar }),
      ...(current.theme === undefined ? {} : { theme: current.theme }),
      ...(current.initialContent === undefined ? {} : { initialContent: current.initialContent }),
    });
    const unsubscribe = [
      editor.on("status", (state) => propsRef.current.onStatus?.(state)),
      editor.on("synced", (isSynced) => propsRef.current.onSynced?.(isSynced)),
      editor.on("presence", (users) => propsRef.current.onPresence?.(users)),
      editor.on("change", () => propsRef.current.onChange?.(editor)),
    ];
    current.onReady?.(editor);
    return () => {
      for (const off of unsubscribe) off();
      editor.destroy();
    };
  }, [
    serverUrl,
    docId,
    token,
    readOnly,
    placeholder,
    localCopyUser,
    sharedConnection,
    userKey,
    toolbarKey,
    themeKey,
    contentKey,
  ]);

  return <div ref={hostRef} className={props.className} style={props.style} />;
}
