// A number with its thousands set apart by spaces, as French, Russian, Polish, Swedish and Czech
// write them ("1 200 salariés", "12 345"), or by apostrophes, as Switzerland does ("1'000'000"),
// was refused as two numbers: the builtin responder asked "how many employees?" again however often
// the user answered, and a model's correct 1200 was refused as not stated. Word processors and
// phones often put a no-break or narrow space there; it reads the same. A run of digits that is no
// such number ("50 80", "1 2000") is still several numbers.
import { describe, expect, it } from 'vitest';
import { collectingConversation, collectionStage, dataOf, EMPLOYEES_COLLECT, employeesAnswered, say } from './stage.js';

const stage = collectionStage();

const answered = (answer: string) => employeesAnswered(stage, 'Bonjour', answer);

describe('the builtin responder reads thousands set apart', () => {
  it.each([
    ['1 200', 1200],
    ['1 200 salariés', 1200],
    ['около 12 345 человек', 12_345],
    ['1 000 000', 1_000_000],
    ['1\u00a0200 (a no-break space)', 1200],
    ['12\u202f345 (a narrow no-break space)', 12_345],
    ["1'000'000", 1_000_000],
    ['1’500 Mitarbeitende', 1500],
  ])('%s is stored as %d', async (answer, stored) => {
    const { reply, data } = await answered(answer);
    expect(data).toEqual({ company_size: stored });
    expect(reply).toContain('What is the name?');
  });

  it.each(['50 80', '1 2000', '12 34'])('%s is still several numbers: nothing is stored and the question is asked again', async (answer) => {
    const { reply, data } = await answered(answer);
    expect(data).toEqual({});
    expect(reply).toContain('number of employees');
  });
});

describe('a model that reads such a number', () => {
  it('has it stored, as the user wrote it', async () => {
    const conversation = await collectingConversation(stage.model, EMPLOYEES_COLLECT);
    stage.fake.setExtraction(() => ({ company_size: 1200, name: null }));
    await say(conversation, 'Nous sommes 1 200 salariés.');
    expect(await dataOf(conversation)).toEqual({ company_size: 1200 });
  });
});
