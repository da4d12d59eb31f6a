import htm from 'htm';
import { h } from 'preact';

/** Preact templates without a JSX build step: values go through Preact's text nodes, never innerHTML. */
export const html = htm.bind(h);
