// A number written with dots between its thousands, as in Germany, Indonesia, Brazil or Vietnam,
// was stored as a different number. "1.234.567" (employees) was read as 1.234, "Rp 1.500.000"
// as 1.5 and "1.000.000 Mitarbeiter" as 1: the first dot was taken for a decimal point and
// everything after the second ignored, so the builtin responder thanked the user and stored a
// value a million times too small, and a model's correct 1234567 was refused as "not stated".
// A run of digits and dots that is no single number (a date 12.05.2023, an address
// 192.168.1.1) was stored as its first two parts (12.05, 192.168); it is no number at all.
import { describe, expect, it } from 'vitest';
import { collectingConversation, collectionStage, dataOf, EMPLOYEES_COLLECT, employeesAnswered, say } from './stage.js';

const stage = collectionStage();

const answered = (answer: string) => employeesAnswered(stage, 'Hallo', answer);

describe('the builtin responder reads a number with dots between its thousands', () => {
  it.each([
    ['1.234.567', 1_234_567],
    ['1.000.000 Mitarbeiter', 1_000_000],
    ['Rp 1.500.000', 1_500_000],
    ['sekitar 2.500.000 orang', 2_500_000],
  ])('%s is stored as %d', async (answer, stored) => {
    const { reply, data } = await answered(answer);
    expect(data).toEqual({ company_size: stored });
    expect(reply).toContain('What is the name?');
  });

  it.each(['12.05.2023', '192.168.1.1', 'version 2.0.1'])('%s is no number: nothing is stored and the question is asked again', async (answer) => {
    const { reply, data } = await answered(answer);
    expect(data).toEqual({});
    expect(reply).toContain('number of employees');
  });

  it('still reads a decimal point and commas between thousands as before', async () => {
    expect((await answered('1.5k')).data).toEqual({ company_size: 1500 });
    expect((await answered('1,234,567')).data).toEqual({ company_size: 1_234_567 });
    expect((await answered('about 12.5 people')).data).toEqual({ company_size: 12.5 });
  });
});

describe('a model that reads such a number', () => {
  it('has it stored, as the user wrote it', async () => {
    const conversation = await collectingConversation(stage.model, EMPLOYEES_COLLECT);
    stage.fake.setExtraction(() => ({ company_size: 1_234_567, name: null }));
    await say(conversation, 'Wir sind 1.234.567 Mitarbeiter.');
    expect(await dataOf(conversation)).toEqual({ company_size: 1_234_567 });
  });

  it('cannot store the first part of it in its place', async () => {
    const conversation = await collectingConversation(stage.model, EMPLOYEES_COLLECT);
    stage.fake.setExtraction(() => ({ company_size: 1.234, name: null }));
    await say(conversation, 'Wir sind 1.234.567 Mitarbeiter.');
    expect(await dataOf(conversation)).toEqual({});
  });
});
