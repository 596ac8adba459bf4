/** The joint-penalty policy: its file schema and its evaluation (pure core, no I/O). */
export { addMonthsUtc, evaluatePolicy, monetizationSuspensionEnd } from './evaluate.js';
export { parsePolicy, policySchema, type ParsePolicyResult } from './schema.js';
export {
  DECISIONS,
  PENALTY_ACTIONS,
  PURPOSES,
  REGISTRATION_PENALTIES,
  type Decision,
  type DecisionKind,
  type MonetizationRule,
  type Penalty,
  type PenaltyAction,
  type Policy,
  type PolicyMatch,
  type Purpose,
  type RegistrationCondition,
  type RegistrationPenalty,
  type RegistrationRule,
} from './types.js';
