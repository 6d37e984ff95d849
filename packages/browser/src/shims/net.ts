// node:net in the browser build: address classification only.
export function isIPv4(text: string): boolean {
  return /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/.test(text);
}

export function isIPv6(text: string): boolean {
  return text.includes(':') && /^[0-9a-fA-F:.]+(%.+)?$/.test(text);
}

export function isIP(text: string): 0 | 4 | 6 {
  return isIPv4(text) ? 4 : isIPv6(text) ? 6 : 0;
}

export class BlockList {
  constructor() {
    throw new Error('BlockList is not available in the browser build');
  }
}
