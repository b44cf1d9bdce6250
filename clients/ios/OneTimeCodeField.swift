// iOS only (UIKit): the kit's OneTimeCodeSource on iOS. An app never sees the
// SMS: iOS offers its code above the keyboard of a `.oneTimeCode` field, and
// one tap fills it in. This field hands over the code once it holds
// codeLength digits, filled in or typed, so it never times out: the user
// types into the same field. The counterpart of the Kotlin kit's
// SmsRetrieverCodeSource.kt.
//
// SwiftUI without this class: TextField("Code", text: $code)
//     .textContentType(.oneTimeCode).keyboardType(.numberPad)
//     .onChange(of: code) { if $0.count == 6 { submit($0) } }
// With AUTOFILL_DOMAIN=example.com the SMS ends in "@example.com #123456" and
// iOS offers the code only in the app or site tied to example.com (add the
// "webcredentials:example.com" associated domain to the app).
import UIKit

final class OneTimeCodeField: UITextField, OneTimeCodeSource {
    private let codeLength: Int // the API's CODE_LENGTH
    private var onCode: ((String) -> Void)?

    init(codeLength: Int = 6) {
        self.codeLength = codeLength
        super.init(frame: .zero)
        textContentType = .oneTimeCode
        keyboardType = .numberPad
        addTarget(self, action: #selector(changed), for: .editingChanged)
    }

    @available(*, unavailable)
    required init?(coder: NSCoder) { fatalError("init(coder:) is not supported") }

    func start(onCode: @escaping (String) -> Void, onTimeout: @escaping () -> Void) {
        self.onCode = onCode
        text = ""
        becomeFirstResponder()
    }

    func stop() {
        onCode = nil
        resignFirstResponder()
    }

    @objc private func changed() {
        let digits = (text ?? "").filter { $0.isASCII && $0.isNumber }
        if digits.count == codeLength { onCode?(digits) }
    }
}

/*
 * In a view model, on the user's actions (as in the Kotlin kit):
 *
 *   codeField.start(onCode: { code in Task { await submit(code) } }, onTimeout: {})
 *   do {
 *       pending = try await client.sendCode(to: phoneNumber, channel: channel)
 *       showCodeScreen(pending)            // countdown to pending.resendAvailableAt
 *   } catch let error as VerificationError { handle(error) } catch { showOffline() }
 *
 *   func submit(_ code: String) async {
 *       do {
 *           let approved = try await client.verify(phoneNumber: pending.phoneNumber, code: code)
 *           codeField.stop()
 *           try await backend.linkPhone(approved.token) // the backend checks the token against the JWKS
 *       } catch let error as VerificationError { handle(error) } catch { showOffline() }
 *   }
 *
 *   func handle(_ error: VerificationError) {
 *       switch error.nextStep {
 *       case .retypeCode(let left): showError("\(error.localizedDescription) \(left ?? 0) attempts left")
 *       case .enterNewerCode: showError("A newer code was sent: type that one")
 *       case .requestNewCode: offerNewCode()
 *       case .fixNumber: editNumber(error.localizedDescription)
 *       case .chooseOtherChannel: offerCall()
 *       case .wait(let seconds): waitThenRetry(seconds)
 *       case .showMessage: showError(error.localizedDescription)
 *       }
 *   }
 */
