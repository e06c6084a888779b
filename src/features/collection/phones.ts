// Phone numbers stored as E.164 (+886912345678). A number written the local way (0912-345-678)
// takes its country from the conversation's data when that names one; a small table covers the
// countries the product's users are in, and any other number needs its country code.
import { asciiDigits } from './numbers.js';
import { fold, compact } from './phrases.js';

interface Country {
  /** Country calling code. */
  code: string;
  /** The prefix dialled before a national number at home, dropped in E.164. */
  trunk: string;
  /** Digits of the national number without the trunk prefix. */
  digits: [number, number];
  /** Names in English, Chinese and Bengali (and other common forms); two-letter codes match only alone. */
  names: string[];
}

const COUNTRIES: Country[] = [
  { code: '886', trunk: '0', digits: [8, 9], names: ['tw', 'taiwan', 'roc', 'republic of china', '台灣', '臺灣', '台湾', '中華民國', '中华民国', 'তাইওয়ান'] },
  { code: '852', trunk: '', digits: [8, 8], names: ['hk', 'hong kong', 'hongkong', '香港', 'হংকং'] },
  { code: '86', trunk: '0', digits: [9, 11], names: ['cn', 'china', 'prc', "people's republic of china", 'mainland china', '中國', '中国', '中國大陸', '中国大陆', '大陸', 'চীন'] },
  { code: '81', trunk: '0', digits: [9, 10], names: ['jp', 'japan', 'nippon', '日本', 'জাপান'] },
  { code: '65', trunk: '', digits: [8, 8], names: ['sg', 'singapore', '新加坡', 'সিঙ্গাপুর'] },
  { code: '880', trunk: '0', digits: [8, 10], names: ['bd', 'bangladesh', '孟加拉', '孟加拉國', '孟加拉国', 'বাংলাদেশ'] },
  { code: '91', trunk: '0', digits: [10, 10], names: ['in', 'india', 'bharat', '印度', 'ভারত'] },
  { code: '1', trunk: '1', digits: [10, 10], names: ['us', 'usa', 'u.s.', 'u.s.a.', 'united states', 'united states of america', 'america', '美國', '美国', 'যুক্তরাষ্ট্র', 'মার্কিন যুক্তরাষ্ট্র', 'আমেরিকা'] },
  { code: '44', trunk: '0', digits: [9, 10], names: ['uk', 'gb', 'u.k.', 'united kingdom', 'great britain', 'britain', 'england', 'scotland', 'wales', 'northern ireland', '英國', '英国', 'যুক্তরাজ্য', 'ব্রিটেন', 'ইংল্যান্ড'] },
  { code: '1', trunk: '1', digits: [10, 10], names: ['ca', 'canada', '加拿大', 'কানাডা'] },
  { code: '61', trunk: '0', digits: [9, 9], names: ['au', 'australia', '澳洲', '澳大利亞', '澳大利亚', 'অস্ট্রেলিয়া'] },
  { code: '49', trunk: '0', digits: [6, 13], names: ['de', 'germany', 'deutschland', '德國', '德国', 'জার্মানি'] },
  { code: '33', trunk: '0', digits: [9, 9], names: ['fr', 'france', '法國', '法国', 'ফ্রান্স'] },
];

const LATIN = /^[a-z0-9 .'-]+$/u;

const NAMES = COUNTRIES.flatMap((country) =>
  country.names.map((name) => ({ country, exact: compact(name), latin: LATIN.test(fold(name)), words: fold(name).replace(/[.']/gu, '').split(/[\s-]+/u), short: name.length <= 2 })),
);

/** The country a text names ("Taiwan", "台灣", "বাংলাদেশ", "Taipei, Taiwan"), or null when none or several. */
export function findCountry(text: string): Country | null {
  const exact = compact(text);
  if (!exact) return null;
  const whole = NAMES.find((name) => name.exact === exact);
  if (whole) return whole.country;
  const words = fold(text).replace(/[.']/gu, '').split(/[^\p{L}\p{M}\p{N}]+/u).filter(Boolean);
  const found = new Set<Country>();
  for (const name of NAMES) {
    if (name.short) continue;
    const named = name.latin
      ? words.some((_, start) => name.words.every((word, offset) => words[start + offset] === word))
      : exact.includes(name.exact);
    if (named) found.add(name.country);
  }
  return found.size === 1 ? [...found][0]! : null;
}

/** The country the conversation's data names: its `country` field, or another whose key says country. */
export function countryOfData(data: Record<string, unknown>): Country | null {
  const keys = Object.keys(data).filter((key) => key.includes('country')).sort((a, b) => (a === 'country' ? -1 : b === 'country' ? 1 : 0));
  for (const key of keys) {
    const value = Object.getOwnPropertyDescriptor(data, key)?.value;
    const country = typeof value === 'string' ? findCountry(value) : null;
    if (country) return country;
  }
  return null;
}

export type PhoneReading = { ok: true; value: string } | { ok: false; problem: 'not_phone' | 'needs_country_code' };

const fits = (national: string, country: Country) => national.length >= country.digits[0] && national.length <= country.digits[1];

/** The country code a number in international form starts with, when the table knows it. */
const knownCode = (digits: string) => COUNTRIES.filter((country) => digits.startsWith(country.code)).sort((a, b) => b.code.length - a.code.length)[0];

function international(digits: string): PhoneReading {
  if (digits.length < 8 || digits.length > 15) return { ok: false, problem: 'not_phone' };
  const country = knownCode(digits);
  if (!country) return { ok: true, value: `+${digits}` };
  let national = digits.slice(country.code.length);
  // "+886 0912 345 678": the home trunk prefix written after the country code is dropped.
  if (country.trunk === '0' && national.startsWith('0')) national = national.slice(1);
  return fits(national, country) ? { ok: true, value: `+${country.code}${national}` } : { ok: false, problem: 'not_phone' };
}

function local(digits: string, country: Country | null): PhoneReading {
  if (digits.length < 6 || digits.length > 15) return { ok: false, problem: 'not_phone' };
  if (!country) return { ok: false, problem: 'needs_country_code' };
  const national = country.trunk && digits.startsWith(country.trunk) ? digits.slice(country.trunk.length) : digits;
  if (fits(national, country)) return { ok: true, value: `+${country.code}${national}` };
  // "886912345678": the country code typed without its plus.
  if (digits.startsWith(country.code) && fits(digits.slice(country.code.length), country)) return { ok: true, value: `+${digits}` };
  if (fits(digits, country)) return { ok: true, value: `+${country.code}${digits}` };
  return { ok: false, problem: 'not_phone' };
}

const PHONE_SHAPE = /^\+?[\d\s().\-/]+$/u;
const PHONE_IN_TEXT = /\+?\(?\d[\d\s().\-/]{4,}\d/gu;

/** A phone number as E.164, from the number alone or from a sentence holding exactly one. */
export function readPhone(raw: string, data: Record<string, unknown>): PhoneReading {
  let text = asciiDigits(raw.normalize('NFKC')).trim().replace(/^tel:/iu, '').replace(/\(0\)/gu, '');
  if (!PHONE_SHAPE.test(text)) {
    const candidates = text.match(PHONE_IN_TEXT) ?? [];
    if (candidates.length !== 1) return { ok: false, problem: 'not_phone' };
    text = candidates[0]!.trim();
  }
  if ((text.match(/\+/gu)?.length ?? 0) > (text.startsWith('+') ? 1 : 0)) return { ok: false, problem: 'not_phone' };
  const digits = text.replace(/\D/gu, '');
  if (text.startsWith('+')) return international(digits);
  if (digits.startsWith('00')) return international(digits.slice(2));
  return local(digits, countryOfData(data));
}
