// The cbor-only browser build: json, serpent and marshal are left out. They keep their names and
// ids (so a reply in one of them is reported clearly), but cannot encode or decode.
import { SerializerId } from '@cinder/protocol';

class Absent {
  readonly binary = false;
  constructor(
    readonly name: string,
    readonly id: number,
  ) {}
  #fail(): never {
    throw new Error(`the ${this.name} serializer is not in this build (cbor only)`);
  }
  encode(): Uint8Array {
    return this.#fail();
  }
  decode(): unknown {
    return this.#fail();
  }
  encodeCall(): Uint8Array {
    return this.#fail();
  }
  decodeCall(): never {
    return this.#fail();
  }
}

export class JsonSerializer extends Absent {
  constructor() {
    super('json', SerializerId.JSON);
  }
}
export class SerpentSerializer extends Absent {
  constructor() {
    super('serpent', SerializerId.SERPENT);
  }
}
export class MarshalSerializer extends Absent {
  constructor() {
    super('marshal', SerializerId.MARSHAL);
  }
}
export class MsgpackEncoder {
  encode(): never {
    throw new Error('the msgpack serializer is not in this build (cbor only)');
  }
  encodeCall(): never {
    throw new Error('the msgpack serializer is not in this build (cbor only)');
  }
}
export class MsgpackDecoder {
  decode(): never {
    throw new Error('the msgpack serializer is not in this build (cbor only)');
  }
}
