// The small words a question is mostly made of: articles, pronouns, auxiliaries, prepositions and
// question words of the languages most knowledge is written in. Prose holds them in every chunk,
// many times over, and ranked by them any long chunk outranked the short one that answers (only
// three reach the model). A question's knowledge query leaves them out when it has other words;
// documents keep them, so a question of small words alone still finds its prose.
//
// Only words that are function words in every language listed: "will" (a testament), "die",
// "son", "van", "come", "era", "dove", "hay", "sin", "bin", "mon" and the like are left in queries, being
// what a question may be about in another of them; so is "für", which is "fur" without its accent.

import { foldLetters, termOf } from './letter-folding.js';

const WORDS = `
a about after all am an and any are as at be been before being but by did do does doing
for from had has have having he her here him his how i if in into is it it's its just me my
no nor not of off on or our ours she so some such than that that's the their them then there
these they this those through to too under until up very was we were what what's when where
which while who whom why with you your yours

aber als am an auch auf aus bei bis bist da dann das dass dem der des dich dir du
durch ein eine einem einen einer eines er es hatte ich ihr im ist kann mich mir mit
nach nicht noch nur ob oder sein sich sie sind so um und uns vom von vor wann warum was weil
welche wenn wer wie wir wird wo zu zum zur über

au aux avec ce ces comment dans de des du elle en est et eux il ils je la le les leur lui
mais me mes moi ne nos notre nous où pas pour pourquoi quand que quel quelle qui sa
se ses sont sur ta te tes toi tu un une vos votre vous à être

al como con cual cuando de del dónde el ella ellos en es esta este la las lo los me mi
mis nos nosotros para pero por qué quien se su sus también te tu un una uno y yo

ao aos com da das do dos ela ele eles em foi isso isto mas meu minha na nas no nos o os
ou para pela pelo por quando que se sem seu sua são também um uma você

che chi ci con cosa dei del della di gli ha il io la le lei lo loro mi ne nel
nella non per perché più quale quando sei si sono su sua suo ti tu un una uno

aan bij dat de deze dit een en er het hij ik in is je met naar niet of om ook op te
voor waar wanneer wat we wie zijn
`;

// As terms are made: "où", "dónde" and "ou", "donde" are the same small words, "it's" is "it",
// "does" is "doe".
export const STOP_WORDS: ReadonlySet<string> = new Set(
  WORDS.split(/\s+/u)
    .filter((word) => word.length > 0)
    .map((word) => termOf(foldLetters(word))),
);

/** Whether a term is one of STOP_WORDS. */
export const isStopWord = (term: string): boolean => STOP_WORDS.has(term);
