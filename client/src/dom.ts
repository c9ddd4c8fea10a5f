/** A tiny element builder so pages read as structure rather than DOM calls. */

export interface ElementProps {
  className?: string;
  text?: string;
  testid?: string;
  ariaLabel?: string;
  /** Decoration only: hidden from assistive technology. */
  ariaHidden?: boolean;
  role?: string;
  title?: string;
  hidden?: boolean;
  href?: string;
  type?: string;
  placeholder?: string;
  maxLength?: number;
  spellcheck?: boolean;
}

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: ElementProps = {},
  children: (Node | string)[] = [],
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (props.className !== undefined) element.className = props.className;
  if (props.text !== undefined) element.textContent = props.text;
  if (props.testid !== undefined) element.dataset.testid = props.testid;
  if (props.ariaLabel !== undefined) element.setAttribute("aria-label", props.ariaLabel);
  if (props.ariaHidden === true) element.setAttribute("aria-hidden", "true");
  if (props.role !== undefined) element.setAttribute("role", props.role);
  if (props.title !== undefined) element.title = props.title;
  if (props.hidden !== undefined) element.hidden = props.hidden;
  if (props.href !== undefined) element.setAttribute("href", props.href);
  if (props.type !== undefined) element.setAttribute("type", props.type);
  if (props.placeholder !== undefined) element.setAttribute("placeholder", props.placeholder);
  if (props.maxLength !== undefined) element.setAttribute("maxlength", String(props.maxLength));
  if (props.spellcheck !== undefined) element.spellcheck = props.spellcheck;
  element.append(...children);
  return element;
}

/** A round button showing only a glyph (hidden from assistive technology); `label` is its name. */
export function iconButton(props: {
  glyph: string;
  label: string;
  title: string;
  className?: string;
  testid?: string;
}): HTMLButtonElement {
  return el(
    "button",
    {
      className: props.className ? `icon-button ${props.className}` : "icon-button",
      type: "button",
      ariaLabel: props.label,
      title: props.title,
      ...(props.testid === undefined ? {} : { testid: props.testid }),
    },
    [el("span", { text: props.glyph, ariaHidden: true })],
  );
}
