/**
 * The React part of /embed-demo: `<CowriteEditor>` in a React 19 root. The
 * demo page imports this bundle (built by vite.demo.config.ts, React
 * included) once it knows the document id, and calls `mount`.
 */
import { useState } from "react";
import { createRoot } from "react-dom/client";
import { CowriteEditor } from "../src/react.tsx";

interface DemoProps {
  serverUrl: string;
  docId: string;
}

function ReactDemo({ serverUrl, docId }: DemoProps) {
  const [status, setStatus] = useState("connecting");
  return (
    <>
      <CowriteEditor
        serverUrl={serverUrl}
        docId={docId}
        user={{ name: "React", color: "#1565c0" }}
        placeholder="A React component"
        onStatus={(state) => setStatus(state.status)}
      />
      <p className="meta">
        Status: <span data-testid="status-react">{status}</span>
      </p>
    </>
  );
}

export function mount(element: HTMLElement, props: DemoProps): () => void {
  const root = createRoot(element);
  root.render(<ReactDemo {...props} />);
  return () => root.unmount();
}
