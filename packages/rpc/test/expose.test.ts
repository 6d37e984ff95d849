import { describe, expect, it } from 'vitest';
import { buildArguments, invokeExposed, MAX_POSITIONAL_ARGS, notCallable } from '../src/dispatch.js';
import {
  behavior,
  behaviorOf,
  expose,
  exposeAll,
  exposureOf,
  isPrivateName,
  oneway,
  params,
  setParams,
} from '../src/expose.js';

describe('private names (Pyro rules)', () => {
  it('treats _x and __x as private, __x__ as public unless deny-listed', () => {
    expect(isPrivateName('_x')).toBe(true);
    expect(isPrivateName('__x')).toBe(true);
    expect(isPrivateName('__dunder__')).toBe(false);
    expect(isPrivateName('__init__')).toBe(true);
    expect(isPrivateName('__getattr__')).toBe(true);
    expect(isPrivateName('____')).toBe(true);
    expect(isPrivateName('constructor')).toBe(true);
    expect(isPrivateName('__proto__')).toBe(true);
    expect(isPrivateName('add')).toBe(false);
  });
});

describe('decorators', () => {
  class Base {
    @expose
    inherited(): string {
      return 'base';
    }

    notMarked(): string {
      return 'no';
    }
  }

  @expose
  class Whole extends Base {
    add(a: number, b: number): number {
      return a + b;
    }

    @oneway
    fire(): void {}

    get value(): number {
      return 1;
    }

    set value(_v: number) {}

    _hidden(): void {}

    __dunder__(): string {
      return 'dunder';
    }
  }

  class Partly {
    @expose
    visible(): number {
      return 1;
    }

    invisible(): number {
      return 2;
    }

    @expose
    get reading(): number {
      return 3;
    }
  }

  it('exposes every public member a class declares, not inherited unmarked ones', () => {
    const e = exposureOf(new Whole());
    expect([...e.methods.keys()].sort()).toEqual(['__dunder__', 'add', 'fire', 'inherited']);
    expect(e.metadata.oneway).toEqual(['fire']);
    expect(e.metadata.attrs).toEqual(['value']);
    expect(e.methods.has('notMarked')).toBe(false);
    expect(e.methods.has('_hidden')).toBe(false);
  });

  it('exposes only marked members of an unexposed class', () => {
    const e = exposureOf(new Partly());
    expect([...e.methods.keys()]).toEqual(['visible']);
    expect(e.metadata.attrs).toEqual(['reading']);
    const attr = e.attrs.get('reading')!;
    expect(attr.get).toBeTypeOf('function');
    expect(attr.set).toBeUndefined();
  });

  it('exposes inherited members on request', () => {
    @exposeAll({ inherited: true })
    class Derived extends Base {
      own(): number {
        return 1;
      }
    }
    expect([...exposureOf(new Derived()).methods.keys()].sort()).toEqual(['inherited', 'notMarked', 'own']);
  });

  it('refuses to expose private or static members', () => {
    expect(() => {
      class Bad {
        @expose
        _secret(): void {}
      }
      return Bad;
    }).toThrow(/private member '_secret'/);
    expect(() => {
      class Bad {
        @expose
        static s(): void {}
      }
      return Bad;
    }).toThrow(/static member/);
  });

  it('records the instance mode', () => {
    @behavior({ instanceMode: 'percall' })
    class PerCall {}
    expect(behaviorOf(PerCall).instanceMode).toBe('percall');
    expect(behaviorOf(class {}).instanceMode).toBe('session');
    expect(() => behavior({ instanceMode: 'bogus' as never })).toThrow(/invalid instance mode/);
  });
});

describe('plain-function form', () => {
  it('exposes a class, selected members, and object literals', () => {
    class Js {
      a() {
        return 'a';
      }
      b() {
        return 'b';
      }
    }
    expose(Js, ['a']);
    oneway(Js, 'a');
    const e = exposureOf(new Js());
    expect([...e.methods.keys()]).toEqual(['a']);
    expect(e.metadata.oneway).toEqual(['a']);
    const obj = expose({
      hello: () => 'hi',
      _private: () => 'no',
      get n() {
        return 5;
      },
    });
    const eo = exposureOf(obj);
    expect([...eo.methods.keys()]).toEqual(['hello']);
    expect(eo.metadata.attrs).toEqual(['n']);
    expect(() => expose(Js, ['missing'])).toThrow(/no member 'missing'/);
    expect(() => expose(Js, ['_x'])).toThrow(/private/);
  });

  it('an object with nothing exposed has an empty exposure', () => {
    const e = exposureOf({ a: () => 1 });
    expect(e.methods.size).toBe(0);
  });
});

describe('dispatch', () => {
  @expose
  class Thing {
    #v = 1;
    add(a: number, b: number): number {
      return a + b;
    }

    @params('a', 'b', '**kwargs')
    kw(a: number, b: number, kwargs: Record<string, unknown>): unknown {
      return { a, b, kwargs };
    }

    @params('x', 'y')
    strict(x: number, y: number): number {
      return x - y;
    }

    loose(...args: unknown[]): unknown[] {
      return args;
    }

    get v(): number {
      return this.#v;
    }

    set v(value: number) {
      this.#v = value;
    }
  }
  class Hidden {
    shown = 1;
    notExposed(): void {}
  }
  const t = new Thing();
  const e = exposureOf(t);

  it('calls methods with positional arguments', () => {
    expect(invokeExposed(t, e, 'add', [1, 2], {})).toBe(3);
  });

  it('refuses more positional arguments than a call can pass, instead of overflowing the stack', () => {
    const many = Array(MAX_POSITIONAL_ARGS).fill(0);
    expect(invokeExposed(t, e, 'add', many, null)).toBe(0);
    expect(() => invokeExposed(t, e, 'add', [...many, 0], null)).toThrow(TypeError);
    expect(() => invokeExposed(t, e, 'add', Array(500_000).fill(0), null)).toThrow(
      /add\(\) takes at most 10000 positional arguments but 500000 were given/,
    );
  });

  it('maps keyword arguments onto declared parameters', () => {
    expect(invokeExposed(t, e, 'kw', [1], { b: 5, c: 7 })).toEqual({ a: 1, b: 5, kwargs: { c: 7 } });
    expect(invokeExposed(t, e, 'strict', [], { y: 1, x: 10 })).toBe(9);
    expect(() => invokeExposed(t, e, 'strict', [1], { x: 2 })).toThrow(/multiple values for argument 'x'/);
    expect(() => invokeExposed(t, e, 'strict', [], { z: 2 })).toThrow(/unexpected keyword argument 'z'/);
    expect(() => invokeExposed(t, e, 'strict', [1, 2, 3], { x: 1 })).toThrow(
      /takes 2 positional arguments but 3 were given/,
    );
    expect(invokeExposed(t, e, 'loose', [1], { k: 2 })).toEqual([1, { k: 2 }]);
  });

  it('keyword maps can never pollute prototypes', () => {
    const kwargs = JSON.parse('{"__proto__": {"polluted": true}, "b": 2}') as Record<string, unknown>;
    const out = invokeExposed(t, e, 'kw', [1], kwargs) as { kwargs: Record<string, unknown> };
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(out.kwargs)).toBe(Object.prototype);
  });

  it('reads and writes exposed attributes', () => {
    invokeExposed(t, e, '__setattr__', ['v', 42], null);
    expect(invokeExposed(t, e, '__getattr__', ['v'], null)).toBe(42);
  });

  it("refuses private, unexposed, missing and dotted names with Pyro's texts", () => {
    expect(() => invokeExposed(t, e, '_x', [], {})).toThrow("attempt to access private attribute '_x'");
    expect(() => invokeExposed(t, e, 'constructor', [], {})).toThrow(
      "attempt to access private attribute 'constructor'",
    );
    expect(() => invokeExposed(t, e, 'nope', [], {})).toThrow("'Thing' object has no attribute 'nope'");
    expect(() => invokeExposed(t, e, 'a.b', [], {})).toThrow(/dotted names/);
    expect(() => invokeExposed(t, e, '__getattr__', ['missing'], null)).toThrow(/no attribute 'missing'/);
    const h = new Hidden();
    expect(notCallable(h, 'notExposed').message).toContain(
      "attempt to access unexposed attribute 'notExposed'",
    );
    expect(notCallable(h, 'notExposed').remoteType).toBe('builtins.AttributeError');
  });

  it('setParams is the plain-function form of @params', () => {
    class P {
      f(a: number, b: number) {
        return a * b;
      }
    }
    expose(P);
    setParams(P, 'f', ['a', 'b']);
    const p = new P();
    expect(invokeExposed(p, exposureOf(p), 'f', [], { a: 3, b: 4 })).toBe(12);
    expect(buildArguments('f', { fn: () => 0, oneway: false, params: undefined }, [1], null)).toEqual([1]);
  });
});
