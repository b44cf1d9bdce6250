// Phone verification client for iOS (Swift 5.9+, iOS 15+): the two API calls
// with URLSession and async/await, the error's reason and Retry-After, and what
// the app does next. No dependency, no UIKit: the iOS-only part, the code
// field, is in OneTimeCodeField.swift, behind the OneTimeCodeSource protocol.
// The same shape as the Kotlin kit (clients/android), which scripts/test.sh
// compiles and runs against the local stack; this one is not compiled there
// (no Swift toolchain on those Linux machines).
//
// Copy both files into your app and point the client at the API base URL
// (the stack's `ApiUrl` output; locally http://127.0.0.1:3000, which needs an
// App Transport Security exception for plain http).
//
//   let client = PhoneVerificationClient(baseURL: URL(string: "https://abc123.execute-api.us-east-1.amazonaws.com")!)
//   let pending = try await client.sendCode(to: "+14155550123")
//   let approved = try await client.verify(phoneNumber: pending.phoneNumber, code: typedCode)
//   // send approved.token to your backend, which checks it against the JWKS
import Foundation

/// 200 {"result": {...}} of sendVerificationCode.
struct PendingVerification: Decodable {
    let status: String // "pending"
    let phoneNumber: String // E.164, as the API normalized it: use this one to verify
    let channel: String // "sms", "call" or "whatsapp"
    let expiresAt: Date
    let resendAvailableAt: Date // show a countdown; "Resend" before it gets resend_too_soon
    let attemptsRemaining: Int
    let delivery: String? // "unconfirmed": the provider answered late, the code is probably on its way
    let fallback: Fallback? // offer "Call me instead" from fallback.availableAt, before resendAvailableAt

    /// The channel to offer if the code does not come, and from when (docs/api.md, "Channel fallback").
    struct Fallback: Decodable {
        let channels: [String]
        let availableAt: Date
    }
}

/// 200 {"result": {...}} of verifyPhoneNumber.
struct ApprovedVerification: Decodable {
    let status: String // "approved"
    let phoneNumber: String
    let verifiedAt: Date
    let token: String? // EdDSA JWT: your backend checks it, the app just passes it on
}

/// Every failure: {code, error, reason, attemptsRemaining?, retryAfter?, parameter?}.
struct VerificationError: Error, LocalizedError {
    struct Body: Decodable {
        let code: Int // the Parse error code
        let error: String // a human message, fit to show
        let reason: String // stable and machine-readable: branch on this
        let attemptsRemaining: Int?
        let retryAfter: Int?
        let parameter: String?
    }

    let httpStatus: Int
    let body: Body
    /// From the Retry-After header (the limits, 503s), else the body's retryAfter.
    let retryAfter: TimeInterval?

    var reason: String { body.reason }
    var attemptsRemaining: Int? { body.attemptsRemaining }
    var errorDescription: String? { body.error }
    var nextStep: NextStep { NextStep(self) }
}

/// Where the code can come from without the user typing it: on iOS the
/// keyboard's suggestion from Messages in a `.oneTimeCode` field
/// (OneTimeCodeField.swift). Start it right before sendCode; onCode gets the
/// code, or onTimeout is called (let the user type it). Stop it when the
/// screen goes away.
protocol OneTimeCodeSource: AnyObject {
    func start(onCode: @escaping (String) -> Void, onTimeout: @escaping () -> Void)
    func stop()
}

final class PhoneVerificationClient {
    private let baseURL: URL
    private let session: URLSession

    init(baseURL: URL, session: URLSession = .shared) {
        self.baseURL = baseURL
        self.session = session
    }

    /// POST {base}/functions/sendVerificationCode. A resend is the same call,
    /// and may switch channel ("call" when the SMS did not come).
    func sendCode(to phoneNumber: String, channel: String = "sms",
                  locale: String = Locale.preferredLanguages.first ?? "en") async throws -> PendingVerification {
        try await call("sendVerificationCode", ["phoneNumber": phoneNumber, "channel": channel, "locale": locale])
    }

    /// POST {base}/functions/verifyPhoneNumber.
    func verify(phoneNumber: String, code: String) async throws -> ApprovedVerification {
        try await call("verifyPhoneNumber", ["phoneNumber": phoneNumber, "phoneVerificationCode": code])
    }

    private struct Envelope<T: Decodable>: Decodable { let result: T }

    private func call<T: Decodable>(_ function: String, _ parameters: [String: String]) async throws -> T {
        var request = URLRequest(url: baseURL.appendingPathComponent("functions/\(function)"))
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = try JSONEncoder().encode(parameters)
        request.timeoutInterval = 15

        let (data, response) = try await session.data(for: request) // URLError when offline
        guard let http = response as? HTTPURLResponse else { throw URLError(.badServerResponse) }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        if http.statusCode == 200 {
            return try decoder.decode(Envelope<T>.self, from: data).result
        }
        guard let body = try? decoder.decode(VerificationError.Body.self, from: data) else {
            throw URLError(.badServerResponse) // not our API's answer (a proxy's error page?)
        }
        let header = http.value(forHTTPHeaderField: "Retry-After").flatMap { TimeInterval($0) }
        throw VerificationError(httpStatus: http.statusCode, body: body,
                                retryAfter: header ?? body.retryAfter.map { TimeInterval($0) })
    }
}

/// What the app does for the reasons a user can meet (docs/api.md, "Errors").
enum NextStep {
    case retypeCode(attemptsLeft: Int?) // incorrect_code
    case enterNewerCode // code_replaced
    case requestNewCode // max_attempts_reached, no_pending_verification, code_already_used
    case wait(seconds: TimeInterval) // resend_too_soon and the other limits; 503s
    case fixNumber // invalid_phone_number, phone_number_missing_country_code, recipient_invalid, ...
    case chooseOtherChannel // number_cannot_receive_sms, recipient_cannot_receive, channel_disabled
    case showMessage // anything else: show error.localizedDescription

    init(_ error: VerificationError) {
        switch error.reason {
        case "incorrect_code": self = .retypeCode(attemptsLeft: error.attemptsRemaining)
        case "code_replaced": self = .enterNewerCode
        case "max_attempts_reached", "no_pending_verification", "code_already_used": self = .requestNewCode
        case "phone_number_missing_country_code", "invalid_phone_number", "recipient_invalid",
             "recipient_unreachable", "premium_rate_number":
            self = .fixNumber
        case "number_cannot_receive_sms", "recipient_cannot_receive", "channel_disabled": self = .chooseOtherChannel
        default:
            if let seconds = error.retryAfter { self = .wait(seconds: seconds) } else { self = .showMessage }
        }
    }
}
