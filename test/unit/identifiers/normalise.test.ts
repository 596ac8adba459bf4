import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IDENTIFIER_TYPES, normaliseIdentifier, type IdentifierType } from '../../../src/identifiers/index.js';

/** A fixed clock, so no case changes its verdict as the years pass: noon UTC on 15 March 2026. */
const NOW = Date.UTC(2026, 2, 15, 12);
const CN = { defaultRegion: 'CN', now: NOW };

/**
 * GB 11643-1999 check character computed independently of the implementation: ISO 7064 MOD 11-2
 * wants (Σ aᵢ·2^(17-i) + c) ≡ 1 (mod 11), so c = (12 − Σ mod 11) mod 11, written 'X' when 10.
 */
function withCheck(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * (2 ** (17 - i) % 11);
  const c = (12 - (sum % 11)) % 11;
  return first17 + (c === 10 ? 'X' : String(c));
}

/** The same 17 digits with a check character that is certainly wrong. */
function withWrongCheck(first17: string): string {
  const right = withCheck(first17).slice(17);
  return first17 + (right === '0' ? '1' : '0');
}

type Valid = [raw: string, expected: string];
type Invalid = [raw: string, why: string];

const valid: Record<IdentifierType, Valid[]> = {
  phone: [
    ['138 0013 8000', '+8613800138000'],
    ['13800138000', '+8613800138000'],
    ['+86 138-0013-8000', '+8613800138000'],
    ['008613800138000', '+8613800138000'],
    ['+8613800138000', '+8613800138000'],
    // Accepted on purpose: with default region CN, a leading 86 before a complete mobile number is
    // the country code typed without '+' (libphonenumber strips it only when the rest is valid).
    ['86 13800138000', '+8613800138000'],
    ['(+86) 138 0013 8000', '+8613800138000'],
    ['138.0013.8000', '+8613800138000'],
    ['１３８ ００１３ ８０００', '+8613800138000'],
    ['+86 199 1234 5678', '+8619912345678'],
    ['+1 650 253 0000', '+16502530000'],
    ['+852 9123 4567', '+85291234567'],
    ['00852 9123 4567', '+85291234567'],
    ['+852 2123 4567', '+85221234567'], // Hong Kong landline: only mainland numbers must be mobile
    ['+44 7911 123456', '+447911123456'],
    ['+886 912 345 678', '+886912345678'],
  ],
  national_id: [
    ['11010519491231002X', '11010519491231002X'], // the sample in GB 11643-1999
    ['11010519491231002x', '11010519491231002X'],
    ['110105 19491231 002X', '11010519491231002X'],
    ['１１０１０５１９４９１２３１００２Ｘ', '11010519491231002X'],
    ['110105491231002', '11010519491231002X'], // legacy 15-digit form of the sample
    ['440524800101001', withCheck('44052419800101001')],
    [withCheck('44030419900307123'), withCheck('44030419900307123')],
    [withCheck('11010120000229001'), withCheck('11010120000229001')], // 2000 is a leap year
    [withCheck('91010119850615001'), withCheck('91010119850615001')], // region codes are not listed
  ],
  email: [
    ['Jane.Doe@Example.com', 'jane.doe@example.com'],
    ['  jane.doe@example.com\n', 'jane.doe@example.com'],
    ['j.a.n.e+news@gmail.com', 'jane@gmail.com'],
    ['Jane.Doe+x+y@GoogleMail.com', 'janedoe@gmail.com'],
    ['user+tag@example.com', 'user+tag@example.com'],
    ['first.last+tag@outlook.com', 'first.last+tag@outlook.com'],
    ['j.doe@mail.gmail.com.cn', 'j.doe@mail.gmail.com.cn'],
    ['user@Bücher.example', 'user@xn--bcher-kva.example'],
    ['用户@例子.中国', '用户@xn--fsqu00a.xn--fiqs8s'],
    ['Mu\u0308ller@example.com', 'm\u00fcller@example.com'],
    ['ÅSA@example.com', 'åsa@example.com'],
    [`${'a'.repeat(64)}@example.com`, `${'a'.repeat(64)}@example.com`],
    ["o'brien@example.ie", "o'brien@example.ie"],
    [`a@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.${'e'.repeat(56)}.com`, `a@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.${'e'.repeat(56)}.com`], // 254 bytes
  ],
  device_id: [
    ['352099001761481', 'imei:35209900176148'],
    ['35-209900-176148-1', 'imei:35209900176148'],
    ['35 209900 176148 1', 'imei:35209900176148'],
    ['3520990017614823', 'imei:35209900176148'], // IMEISV of the same handset
    ['35209900176148', 'imei:35209900176148'],
    ['490154203237518', 'imei:49015420323751'],
    ['6F9619FF-8B86-D011-B42D-00C04FC964FF', 'uuid:6f9619ff-8b86-d011-b42d-00c04fc964ff'],
    ['{6f9619ff-8b86-d011-b42d-00c04fc964ff}', 'uuid:6f9619ff-8b86-d011-b42d-00c04fc964ff'],
    [' 123e4567-e89b-12d3-a456-426614174000 ', 'uuid:123e4567-e89b-12d3-a456-426614174000'],
    ['IMEI:35-209900-176148-1', 'imei:35209900176148'], // our own output form is accepted again
    ['uuid:{6F9619FF-8B86-D011-B42D-00C04FC964FF}', 'uuid:6f9619ff-8b86-d011-b42d-00c04fc964ff'],
  ],
  payment_account: [
    ['alipay:2088102146225135', 'alipay:2088102146225135'],
    ['Alipay:2088102146225135', 'alipay:2088102146225135'],
    [' wechatpay : oUpF8uMuAJO_M2pxb1Q9zNjWeS6o ', 'wechatpay:oUpF8uMuAJO_M2pxb1Q9zNjWeS6o'],
    ['bank_icbc:a:b', 'bank_icbc:a:b'],
    ['bank:Mu\u0308ller', 'bank:M\u00fcller'],
    [`alipay:${'x'.repeat(128)}`, `alipay:${'x'.repeat(128)}`],
    [`wechatpay:${'账'.repeat(128)}`, `wechatpay:${'账'.repeat(128)}`],
  ],
};

const invalid: Record<IdentifierType, Invalid[]> = {
  phone: [
    ['010 6552 9988', 'mobile'], // Beijing landline
    ['+86 10 6552 9988', 'mobile'],
    ['+86 400 810 8888', 'mobile'], // shared-cost service number
    ['1380013800', 'not a valid'],
    ['+86 1380013800012', 'not a valid'],
    ['+86 12345678901', 'not a valid'],
    ['086 13800138000', 'not a valid'],
    ['12345', 'not a valid'],
    ['13800138000abc', 'characters'],
    ['abc', 'characters'],
    ['tel:+8613800138000', 'characters'],
    ['138-0013-8000 ext. 5', 'characters'],
    ['+86+13800138000', 'characters'],
    ['138 0013 8000 +', 'characters'],
    ['13800138000 13900139000', 'not a valid'], // two numbers: never pick one
    ['', 'empty'],
    ['   ', 'empty'],
    ['1'.repeat(65), 'too long'],
  ],
  national_id: [
    [withWrongCheck('11010519491231002'), 'check character'],
    ['110105194912310021', 'check character'],
    [withCheck('11010119900230001'), 'not a real date'], // 30 February
    [withCheck('11010119000229001'), 'not a real date'], // 1900 was not a leap year
    [withCheck('11010119901301001'), 'not a real date'],
    [withCheck('11010119900100001'), 'not a real date'],
    ['110105490230002', 'not a real date'], // legacy form, 30 February 1949
    ['440524188001010014', 'before 1900'], // the standard's other sample, born 1880
    [withCheck('11010121010101001'), 'in the future'],
    [withCheck('11010120300101001'), 'in the future'],
    ['1101051949123100', '18 characters'],
    ['11010519491231002', '18 characters'],
    ['11010519491231002XX', '18 characters'],
    ['11010519491231002A', '18 characters'],
    ['1101051949X231002X', '18 characters'],
    ['', '18 characters'],
  ],
  email: [
    ['no-at-sign.example.com', 'exactly one @'],
    ['a@b@example.com', 'exactly one @'],
    ['@example.com', 'empty local part'],
    ['user@', 'not a valid domain'],
    ['user@localhost', 'not a valid domain'],
    ['user@exa mple.com', 'not a valid domain'],
    ['user@example..com', 'not a valid domain'],
    ['user@-example.com', 'not a valid domain'],
    ['user@example.com.', 'not a valid domain'],
    ['user@1.2.3.4', 'not a valid domain'],
    ['user@[1.2.3.4]', 'not a valid domain'],
    ['user@ex%41mple.com', 'not a valid domain'],
    ['user@exa/mple.com', 'not a valid domain'],
    ['user@under_score.com', 'not a valid domain'],
    ['us er@example.com', 'not allowed'],
    ['user\u200b@example.com', 'not allowed'],
    ['"quoted"@example.com', 'not allowed'],
    [`${'a'.repeat(65)}@example.com`, '64 bytes'],
    [`${'é'.repeat(33)}@example.com`, '64 bytes'],
    [`aa@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.${'e'.repeat(57)}.com`, '254 bytes'], // domain 253
    ['+tag@gmail.com', 'empty once'],
    ['...@googlemail.com', 'empty once'],
  ],
  device_id: [
    ['352099001761482', 'check digit'],
    ['35-209900-176148-2', 'check digit'],
    ['000000000000000', 'all zeros'],
    ['0000000000000000', 'all zeros'],
    ['1234567890123', 'not an IMEI or UUID'],
    ['12345678901234567', 'not an IMEI or UUID'],
    ['00000000-0000-0000-0000-000000000000', 'nil or max'],
    ['FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF', 'nil or max'],
    ['{6f9619ff-8b86-d011-b42d-00c04fc964ff', 'not an IMEI or UUID'],
    ['6f9619ff-8b86-d011-b42d-00c04fc964ff}', 'not an IMEI or UUID'],
    ['6f9619ff8b86d011b42d00c04fc964ff', 'not an IMEI or UUID'],
    ['6f9619ff-8b86-d011-b42d-00c04fc964fg', 'not an IMEI or UUID'],
    ['android-device-1234', 'not an IMEI or UUID'],
    ['uuid:352099001761481', 'not an IMEI or UUID'],
    ['imei:6f9619ff-8b86-d011-b42d-00c04fc964ff', 'not an IMEI or UUID'],
    ['imei:', 'not an IMEI or UUID'],
    ['', 'not an IMEI or UUID'],
  ],
  payment_account: [
    ['2088102146225135', 'provider:account'],
    ['alipay:', 'empty'],
    ['a:2088102146225135', 'provider must be'],
    [`${'p'.repeat(33)}:123`, 'provider must be'],
    ['pay pal:123', 'provider must be'],
    ['\u212Aakao:123', 'provider must be'], // Kelvin sign, lower-cases to 'k'
    [':123', 'provider must be'],
    ['unionpay:6222 0000 1111', 'whitespace'],
    ['alipay:acc\u0000', 'whitespace or control'],
    ['alipay:acc\u200bount', 'whitespace or control'],
    [`alipay:${'x'.repeat(129)}`, 'longer than 128'],
  ],
};

describe.each(IDENTIFIER_TYPES)('%s', (type) => {
  it.each(valid[type])('accepts %j', (raw, expected) => {
    expect(normaliseIdentifier(type, raw, CN)).toEqual({ ok: true, value: expected });
  });

  it.each(invalid[type])('rejects %j (%s)', (raw, why) => {
    const result = normaliseIdentifier(type, raw, CN);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toContain(why);
  });

  it('is idempotent on its own output', () => {
    for (const [raw] of valid[type]) {
      const first = normaliseIdentifier(type, raw, CN);
      if (!first.ok) throw new Error('expected a valid case');
      expect(normaliseIdentifier(type, first.value, CN)).toEqual(first);
    }
  });
});

describe('national_id birth date against the clock', () => {
  /** A valid ID (right check character) born on the given YYYYMMDD. */
  const bornOn = (yyyymmdd: string): string => withCheck(`110105${yyyymmdd}002`);
  const at = (now: number) => ({ defaultRegion: 'CN', now });

  it('refuses a birth date in 2030', () => {
    expect(normaliseIdentifier('national_id', bornOn('20300101'), CN)).toEqual({ ok: false, reason: 'birth date is in the future' });
  });

  it('accepts a birth date of today and refuses tomorrow', () => {
    expect(normaliseIdentifier('national_id', bornOn('20260315'), CN)).toEqual({ ok: true, value: bornOn('20260315') });
    expect(normaliseIdentifier('national_id', bornOn('20260316'), CN)).toEqual({ ok: false, reason: 'birth date is in the future' });
  });

  it('reads "today" in China Standard Time (UTC+8), where the birth date was written', () => {
    // 16:30 UTC on 15 March is 00:30 on 16 March in Beijing; 15:59 UTC is still the 15th there.
    expect(normaliseIdentifier('national_id', bornOn('20260316'), at(Date.UTC(2026, 2, 15, 16, 30))).ok).toBe(true);
    expect(normaliseIdentifier('national_id', bornOn('20260316'), at(Date.UTC(2026, 2, 15, 15, 59))).ok).toBe(false);
  });

  it('moves with the clock: the 2030 birth date is valid in 2031', () => {
    expect(normaliseIdentifier('national_id', bornOn('20300101'), at(Date.UTC(2031, 0, 1))).ok).toBe(true);
  });
});

describe('idempotence on arbitrary accepted input', () => {
  const text = fc.string({ unit: 'binary', maxLength: 20 });
  it('email', () => {
    fc.assert(
      fc.property(text, fc.constantFrom('gmail.com', 'GoogleMail.com', 'example.com', 'bücher.example', '例子.中国'), (local, domain) => {
        const first = normaliseIdentifier('email', `${local}@${domain}`, CN);
        return !first.ok || JSON.stringify(normaliseIdentifier('email', first.value, CN)) === JSON.stringify(first);
      }),
      { numRuns: 2000 },
    );
  });

  it('payment_account', () => {
    fc.assert(
      fc.property(text, (account) => {
        const first = normaliseIdentifier('payment_account', `Alipay:${account}`, CN);
        return !first.ok || JSON.stringify(normaliseIdentifier('payment_account', first.value, CN)) === JSON.stringify(first);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('phone default region', () => {
  it('reads national numbers in the default region', () => {
    expect(normaliseIdentifier('phone', '650 253 0000', { defaultRegion: 'US', now: NOW })).toEqual({ ok: true, value: '+16502530000' });
  });

  it("strips only the default region's own calling code", () => {
    expect(normaliseIdentifier('phone', '86 13800138000', { defaultRegion: 'US', now: NOW }).ok).toBe(false);
  });

  it('throws on an unsupported region (a configuration error)', () => {
    expect(() => normaliseIdentifier('phone', '13800138000', { defaultRegion: 'XX', now: NOW })).toThrow(RangeError);
    expect(() => normaliseIdentifier('phone', '13800138000', { defaultRegion: 'cn', now: NOW })).toThrow(RangeError);
  });
});

describe('input shared by all types', () => {
  it.each(IDENTIFIER_TYPES)('%s rejects input longer than 1024 characters', (type) => {
    expect(normaliseIdentifier(type, `alipay:${'1'.repeat(1100)}`, CN)).toEqual({ ok: false, reason: 'identifier is too long' });
  });

  it.each(IDENTIFIER_TYPES)('%s rejects a lone surrogate', (type) => {
    expect(normaliseIdentifier(type, 'bank:ab\ud800', CN).ok).toBe(false);
  });
});

describe('reasons never contain the input', () => {
  const rejected = IDENTIFIER_TYPES.flatMap((type) => invalid[type].map(([raw]) => [type, raw] as const));

  it.each(rejected)('%s %j', (type, raw) => {
    const result = normaliseIdentifier(type, raw, CN);
    if (result.ok) throw new Error('expected a rejection');
    const trimmed = raw.trim();
    if (trimmed.length >= 3) expect(result.reason).not.toContain(trimmed);
    for (const run of raw.match(/[0-9]{3,}/g) ?? []) expect(result.reason).not.toContain(run);
  });

  it('holds for arbitrary input', () => {
    fc.assert(
      // At least 8 characters: a shorter random string can be a word of the reason by chance.
      fc.property(fc.constantFrom(...IDENTIFIER_TYPES), fc.string({ minLength: 8, maxLength: 80 }), (type, raw) => {
        const result = normaliseIdentifier(type, raw, CN);
        return result.ok || raw.trim().length < 8 || !result.reason.includes(raw.trim());
      }),
      { numRuns: 2000 },
    );
  });
});
