// Building DOM nodes. Text always goes in through textContent, never as markup.

const SVG_NS = "http://www.w3.org/2000/svg";

/**
 * An element: `el("p", { class: "note", text: "hello", attrs: { id: "x" } }, [children])`.
 * Children are nodes or strings (inserted as text); null and false are skipped.
 */
export function el(tag, options = {}, children = []) {
  const node = document.createElement(tag);
  fill(node, options, children);
  return node;
}

/** An SVG element, like `el`. */
export function svg(tag, options = {}, children = []) {
  const node = document.createElementNS(SVG_NS, tag);
  fill(node, options, children);
  return node;
}

function fill(node, options, children) {
  if (options.class) {
    node.setAttribute("class", options.class);
  }
  if (options.text !== undefined) {
    node.textContent = options.text;
  }
  for (const [name, value] of Object.entries(options.attrs || {})) {
    if (value !== undefined && value !== null && value !== false) {
      node.setAttribute(name, String(value));
    }
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
}

/** Text in which `backquoted` parts become <code> elements: an array of nodes and strings. */
export function withCode(text) {
  return text.split("`").map((part, i) => (i % 2 === 1 ? el("code", { text: part }) : part));
}

/** Replaces every child of `node`. */
export function replace(node, children) {
  node.replaceChildren(...children.filter((c) => c !== null && c !== undefined && c !== false));
}
