// The object the web examples call: a price list with an error case, a stream, a callback and a
// slow method to cancel. `@params` names the parameters so gateway calls (keyword arguments) work.
import { currentContext, expose, params } from '@cinder/cinder';

@expose
export class Shop {
  @params('item')
  price(item: string): number {
    if (item === 'unicorn') throw new RangeError('no such item: unicorn');
    return item.length * 10;
  }

  @params('n')
  *count(n: number): Generator<number> {
    for (let i = 0; i < Number(n); i++) yield i;
  }

  @params('n', 'fn')
  async visit(n: number, fn: (i: number) => Promise<number>): Promise<number> {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += await fn(i);
    return sum;
  }

  @params('ms')
  async wait(ms: number): Promise<string> {
    const signal = currentContext()?.signal;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, Number(ms));
      signal?.addEventListener('abort', () => {
        clearTimeout(timer);
        reject(new Error('cancelled'));
      });
    });
    return 'waited';
  }
}
